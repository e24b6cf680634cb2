//! The one integration-test binary: the CLI as a user runs it, and the desktop app as a user
//! uses it (the real window under Xvfb, driven over WebDriver), alone and signed in to a team
//! server, and the softphone against sipp.

mod cli;
mod desktop;
mod import;
mod phone;
mod power;
mod search;
mod sync;
mod team;
