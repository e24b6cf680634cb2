//! Dates in queries: turns a date value and an operator into a half-open range of instants
//! (ms since the epoch), given "now" and the user's time zone. Relative dates compare ages
//! (Close's rule); absolute dates, `today` and `yesterday` are intervals (a whole day, or a
//! whole minute when a time is given). Never reads the system clock.

use jiff::civil;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};
use rapport_query::{CmpOp, Date, TimeUnit, Value};

/// "Now" and the time zone a query is evaluated in.
#[derive(Debug, Clone)]
pub struct Clock {
    pub now: Timestamp,
    pub tz: TimeZone,
}

/// What a date condition means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateCond {
    /// The instant lies in `[lo, hi)`; `None` is unbounded.
    Range(Option<i64>, Option<i64>),
    /// The event happened (`yes`, `*`).
    Exists,
    /// It never happened (`never`).
    Missing,
}

/// Far past / far future, when date arithmetic leaves jiff's range.
const FAR_PAST: i64 = -377_705_116_800_000;

const DAY_MS: i64 = 86_400_000;

impl Clock {
    pub fn new(now: Timestamp, tz: TimeZone) -> Clock {
        Clock { now, tz }
    }

    fn zoned_now(&self) -> Zoned {
        self.now.to_zoned(self.tz.clone())
    }

    /// The first instant of `date` in this time zone, in ms.
    pub fn day_start(&self, date: civil::Date) -> i64 {
        self.instant(date.at(0, 0, 0, 0))
    }

    /// The instant of a local date and time, in ms. jiff's instants end a little before
    /// 9999-12-31 (its civil dates do not): a local time past them is placed with the
    /// zone's offset at jiff's last instant, so every date the query grammar accepts (up
    /// to 9999-12-31 23:59) has its instant and dates keep their order.
    fn instant(&self, dt: civil::DateTime) -> i64 {
        match self.tz.to_zoned(dt) {
            Ok(z) => z.timestamp().as_millisecond(),
            Err(_) if dt.year() > 0 => {
                let offset = i64::from(self.tz.to_offset(Timestamp::MAX).seconds()) * 1000;
                let time = i64::from(dt.hour()) * 3_600_000 + i64::from(dt.minute()) * 60_000;
                day_number(dt.date()) * DAY_MS + time - offset
            }
            Err(_) => FAR_PAST,
        }
    }

    /// The first instant after `date`, in ms: the start of the next day (also after
    /// 9999-12-31, the last civil date).
    fn day_end(&self, date: civil::Date) -> i64 {
        match date.tomorrow() {
            Ok(next) => self.day_start(next),
            Err(_) => self.day_start(date) + DAY_MS,
        }
    }

    /// `[start, end)` of a calendar date (or of the minute, with a time of day).
    fn interval(&self, date: Date) -> (i64, i64) {
        let Ok(day) = civil::Date::new(date.year() as i16, date.month() as i8, date.day() as i8)
        else {
            return (FAR_PAST, FAR_PAST);
        };
        match date.time() {
            None => (self.day_start(day), self.day_end(day)),
            Some((h, m)) => {
                let start = self.instant(day.at(h as i8, m as i8, 0, 0));
                (start, start + 60_000)
            }
        }
    }

    /// The local date `days` days before today.
    pub fn today_minus(&self, days: i64) -> civil::Date {
        let today = self.zoned_now().date();
        today
            .checked_sub(Span::new().days(days))
            .unwrap_or(civil::Date::MIN)
    }

    /// The instant `amount` units before now (calendar arithmetic in the time zone for days
    /// and longer, so "1 month ago" is the same day of the previous month).
    pub fn ago(&self, amount: u32, unit: TimeUnit) -> i64 {
        let n = i64::from(amount);
        let span = match unit {
            TimeUnit::Minute => Span::new().try_minutes(n),
            TimeUnit::Hour => Span::new().try_hours(n),
            TimeUnit::Day => Span::new().try_days(n),
            TimeUnit::Week => Span::new().try_weeks(n),
            TimeUnit::Month => Span::new().try_months(n),
            TimeUnit::Year => Span::new().try_years(n),
        };
        span.and_then(|s| self.zoned_now().checked_sub(s))
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(FAR_PAST)
    }

    /// The local date of an instant (past jiff's last instant, by the offset
    /// [`Clock::instant`] uses there; the last civil date at most).
    pub fn date_of(&self, ms: i64) -> civil::Date {
        match Timestamp::from_millisecond(ms) {
            Ok(t) => t.to_zoned(self.tz.clone()).date(),
            Err(_) if ms > 0 => {
                let offset = i64::from(self.tz.to_offset(Timestamp::MAX).seconds()) * 1000;
                let days = (ms + offset).div_euclid(DAY_MS);
                civil::date(1970, 1, 1)
                    .checked_add(Span::new().days(days))
                    .unwrap_or(civil::Date::MAX)
            }
            Err(_) => civil::Date::MIN,
        }
    }

    /// The condition `field op value` puts on an instant.
    pub fn cond(&self, op: CmpOp, value: &Value) -> Option<DateCond> {
        let interval = match value {
            Value::Any | Value::Yes => return Some(DateCond::Exists),
            Value::Never => return Some(DateCond::Missing),
            Value::Date(d) => self.interval(*d),
            Value::Today => {
                let today = self.today_minus(0);
                (self.day_start(today), self.day_end(today))
            }
            Value::Yesterday => {
                let day = self.today_minus(1);
                (self.day_start(day), self.day_end(day))
            }
            Value::Relative { amount, unit } => {
                let point = self.ago(*amount, *unit);
                // Ages: `< 3 days ago` = younger than 3 days = after the point.
                return Some(match op {
                    CmpOp::Lt => DateCond::Range(Some(point + 1), None),
                    CmpOp::Le => DateCond::Range(Some(point), None),
                    CmpOp::Gt => DateCond::Range(None, Some(point)),
                    CmpOp::Ge => DateCond::Range(None, Some(point + 1)),
                    CmpOp::Match | CmpOp::Eq => {
                        let day = self.date_of(point);
                        DateCond::Range(Some(self.day_start(day)), Some(self.day_end(day)))
                    }
                });
            }
            _ => return None,
        };
        let (start, end) = interval;
        Some(match op {
            CmpOp::Match | CmpOp::Eq => DateCond::Range(Some(start), Some(end)),
            CmpOp::Ge => DateCond::Range(Some(start), None),
            CmpOp::Lt => DateCond::Range(None, Some(start)),
            CmpOp::Gt => DateCond::Range(Some(end), None),
            CmpOp::Le => DateCond::Range(None, Some(end)),
        })
    }

    /// The same range for a date-only value stored as a day number: a day `D` satisfies an
    /// instant range when the first instant of `D` does.
    pub fn day_range(&self, lo: Option<i64>, hi: Option<i64>) -> (Option<i64>, Option<i64>) {
        (lo.map(|t| self.ceil_day(t)), hi.map(|t| self.ceil_day(t)))
    }

    /// The first day number whose start is at or after `ms`.
    fn ceil_day(&self, ms: i64) -> i64 {
        let day = self.date_of(ms);
        let n = day_number(day);
        if self.day_start(day) >= ms { n } else { n + 1 }
    }
}

/// Days since 1970-01-01 of a civil date.
pub fn day_number(d: civil::Date) -> i64 {
    let (y, m, day) = (
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    );
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Clock {
        let now: Timestamp = "2024-03-15T15:00:00Z".parse().unwrap();
        Clock::new(now, TimeZone::get("America/Los_Angeles").unwrap())
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn absolute_dates_are_whole_days_in_the_zone() {
        let c = clock();
        let d = Value::Date(Date::new(2024, 1, 31).unwrap());
        assert_eq!(
            c.cond(CmpOp::Match, &d),
            Some(DateCond::Range(
                Some(ms("2024-01-31T08:00:00Z")),
                Some(ms("2024-02-01T08:00:00Z"))
            ))
        );
        assert_eq!(
            c.cond(CmpOp::Lt, &d),
            Some(DateCond::Range(None, Some(ms("2024-01-31T08:00:00Z"))))
        );
    }

    #[test]
    fn relative_dates_compare_ages() {
        let c = clock();
        let three_days = Value::Relative {
            amount: 3,
            unit: TimeUnit::Day,
        };
        assert_eq!(
            c.cond(CmpOp::Lt, &three_days),
            Some(DateCond::Range(Some(ms("2024-03-12T15:00:00Z") + 1), None))
        );
        assert_eq!(
            c.cond(CmpOp::Gt, &three_days),
            Some(DateCond::Range(None, Some(ms("2024-03-12T15:00:00Z"))))
        );
    }

    #[test]
    fn today_follows_the_time_zone() {
        let c = clock();
        assert_eq!(
            c.cond(CmpOp::Match, &Value::Today),
            Some(DateCond::Range(
                Some(ms("2024-03-15T07:00:00Z")),
                Some(ms("2024-03-16T07:00:00Z"))
            ))
        );
    }

    /// Failed before the fix: 9999-12-31 has no instant in jiff, so its start fell back to
    /// the far past (`> 9999-12-31` matched everything, `< 9999-12-31` nothing).
    #[test]
    fn the_last_dates_of_the_grammar_compare_in_order() {
        let now = ms("2024-03-15T15:00:00Z");
        for tz in ["America/Los_Angeles", "UTC", "Pacific/Kiritimati"] {
            let c = Clock::new(
                "2024-03-15T15:00:00Z".parse().unwrap(),
                TimeZone::get(tz).unwrap(),
            );
            let last = Value::Date(Date::new(9999, 12, 31).unwrap());
            let Some(DateCond::Range(Some(after), None)) = c.cond(CmpOp::Gt, &last) else {
                panic!("{tz}")
            };
            let Some(DateCond::Range(None, Some(before))) = c.cond(CmpOp::Lt, &last) else {
                panic!("{tz}")
            };
            assert!(now < before && before < after, "{tz}: {before} {after}");
            assert_eq!(after - before, 86_400_000, "{tz}");
            // The day before ends where the last day starts; a minute is inside its day.
            let prev = Value::Date(Date::new(9999, 12, 30).unwrap());
            assert_eq!(
                c.cond(CmpOp::Le, &prev),
                Some(DateCond::Range(None, Some(before)))
            );
            let minute = Value::Date(Date::new(9999, 12, 31).unwrap().at(23, 59).unwrap());
            assert_eq!(
                c.cond(CmpOp::Match, &minute),
                Some(DateCond::Range(Some(after - 60_000), Some(after)))
            );
            assert_eq!(c.date_of(before), civil::date(9999, 12, 31), "{tz}");
            assert_eq!(
                c.day_range(Some(before), Some(after)).1.unwrap() - 1,
                day_number(civil::date(9999, 12, 31))
            );
        }
    }

    #[test]
    fn day_numbers() {
        assert_eq!(day_number(civil::date(1970, 1, 1)), 0);
        assert_eq!(day_number(civil::date(2024, 1, 31)), 19753);
        let c = clock();
        let start = c.day_start(civil::date(2024, 1, 31));
        assert_eq!(
            c.day_range(Some(start), Some(start + 1)),
            (Some(19753), Some(19754))
        );
    }
}
