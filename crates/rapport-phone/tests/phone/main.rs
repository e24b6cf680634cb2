//! Real-peer integration tests of rapport-phone on loopback: sipp (echo, busy, not found, cancel, answers we no longer wanted, offers to refuse, early media, injected RTP), kamailio (digest REGISTER, proxied calls) and baresip (tones both ways, DTMF, hold, BYE, inbound), registration refresh and recovery after a registrar restart (and a refused registrar), SIP over TLS, and the cpal backend through ALSA file plugins.

mod baresip_calls;
mod cpal_alsa;
mod early_media;
mod ghost_calls;
mod hostile_input;
mod kamailio_calls;
mod offers;
mod peers;
mod reregister;
mod rtp_injection;
mod sipp_calls;
mod tls_calls;
