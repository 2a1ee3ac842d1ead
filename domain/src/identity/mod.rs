//! Who someone is and how they get in: accounts and passwords, signing in
//! (the throttle, the password, the two-step code), sessions, two-step
//! sign-in, single sign-on, invitations and a workspace's members.

#[cfg(feature = "server")]
pub mod accounts;
#[cfg(feature = "server")]
mod code;
#[cfg(feature = "server")]
pub mod invitations;
#[cfg(feature = "server")]
pub mod members;
#[cfg(feature = "server")]
pub mod mfa;
#[cfg(feature = "server")]
pub mod sessions;
#[cfg(feature = "server")]
mod sign_in;
#[cfg(feature = "server")]
pub mod sso;
#[cfg(feature = "server")]
pub mod throttle;
pub mod views;
