//! Real-peer integration tests of rapport-phone on loopback: sipp (echo, busy, not found, cancel), kamailio (digest REGISTER, proxied calls) and baresip (tones both ways, DTMF, hold, BYE, inbound), registration refresh and recovery after a registrar restart, SIP over TLS, and the cpal backend through ALSA file plugins.

mod baresip_calls;
mod cpal_alsa;
mod ghost_calls;
mod hostile_input;
mod kamailio_calls;
mod peers;
mod reregister;
mod sipp_calls;
mod tls_calls;
