//! Who someone is and how they get in: accounts and passwords, signing in
//! (the throttle, the password, the two-step code), sessions, two-step
//! sign-in, single sign-on, invitations and a workspace's members.

pub mod accounts;
mod code;
pub mod invitations;
pub mod members;
pub mod mfa;
pub mod sessions;
mod sign_in;
pub mod sso;
pub mod throttle;
