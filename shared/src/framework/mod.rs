//! The framework's core: a request in, exactly one answer out. It knows nothing of any AWS
//! service or database; the helpers beside it do.

pub mod confirm;
pub(crate) mod deadline;
pub(crate) mod destination;
pub(crate) mod errors;
pub(crate) mod event;
pub mod logging;
pub mod properties;
pub(crate) mod resource;
pub(crate) mod response;
pub(crate) mod runtime;
pub(crate) mod sender;
pub mod stack_names;
pub(crate) mod trust;
