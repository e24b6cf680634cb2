//! Frequency measurement of recorded audio (zero crossings and Goertzel), used by tests and diagnostics to check that a call carried the right tone.

/// Root-mean-square level of the samples.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// Estimate the dominant frequency from zero crossings, ignoring near-silent stretches.
pub fn zero_crossing_frequency(samples: &[i16], rate: u32) -> f64 {
    let mut crossings = 0usize;
    let mut counted = 0usize;
    for w in samples.windows(2) {
        let loud = w[0].unsigned_abs() > 64 || w[1].unsigned_abs() > 64;
        // Count only around audible signal so leading/trailing silence does not dilute it.
        if loud {
            counted += 1;
            if (w[0] < 0) != (w[1] < 0) {
                crossings += 1;
            }
        }
    }
    if counted == 0 {
        return 0.0;
    }
    crossings as f64 / 2.0 / (counted as f64 / f64::from(rate))
}

/// Relative power of `freq` in the samples (Goertzel), normalised by total energy: ~1 for a pure tone.
pub fn goertzel_ratio(samples: &[i16], rate: u32, freq: f64) -> f64 {
    let n = samples.len();
    if n == 0 {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    if energy == 0.0 {
        0.0
    } else {
        2.0 * power / (n as f64 * energy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::sine;

    #[test]
    fn measures_a_tone() {
        let tone = sine(440.0, 1.0, 8000.0);
        let f = zero_crossing_frequency(&tone, 8000);
        assert!((f - 440.0).abs() < 5.0, "{f}");
        assert!(goertzel_ratio(&tone, 8000, 440.0) > 0.9);
        assert!(goertzel_ratio(&tone, 8000, 1000.0) < 0.01);
        assert!((rms(&tone) - 8000.0 / 2f64.sqrt()).abs() < 50.0);
        assert_eq!(zero_crossing_frequency(&[0; 100], 8000), 0.0);
    }
}
