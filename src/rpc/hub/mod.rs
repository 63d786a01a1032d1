//! [`Hub`]: the live connections of a server, by id, by user and by room, with sends to one,
//! to a user, to a room or to everyone, over a [`HubBackend`] for what spans nodes. A
//! message is encoded once per codec in use on a node, not once per recipient.

mod backend;
#[cfg(feature = "redis")]
pub mod cluster;
mod local;

pub use backend::{Delivery, Health, HubBackend, Member, Position, Recovery, Target};
pub use local::{Broadcast, Hub, LocalBackend, WeakHub};
