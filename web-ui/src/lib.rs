//! # web-ui: svclab's browser playground
//!
//! The Yew + Trunk front end (the playground, visualizer and terminal) is built on top of this
//! crate's pure view models, which turn a `lab-core` cluster into exactly what a view draws. They
//! have no Yew imports, so they are tested natively like the rest of the core (the Yew examples'
//! habit: components stay small and dumb, logic lives in plain modules).
//!
//! - [`map`] — the cluster map: nodes with their pods, Services with their virtual IPs and the
//!   lines to the endpoints behind them.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod map;
