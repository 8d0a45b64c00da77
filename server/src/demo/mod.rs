//! `relay --demo` only: the stand-in order service.

pub mod simulator;
