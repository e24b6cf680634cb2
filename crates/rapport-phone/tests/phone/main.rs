//! Real-peer integration tests of rapport-phone on loopback: sipp (echo, busy, not found, cancel), kamailio (digest REGISTER, proxied calls) and baresip (tones both ways, DTMF, hold, BYE, inbound).

mod baresip_calls;
mod hostile_input;
mod kamailio_calls;
mod peers;
mod sipp_calls;
