pub mod audit;
pub mod members;
pub mod operations;
pub mod overview;
pub mod sign_in;
pub mod system;
pub mod tenants;
pub mod workspaces;
