//! The SDK's code generation pipeline, as a library (`cargo xtask` is a thin CLI over it).
//!
//! ```text
//! openapi/fragments/*.json  --load-->  Fragment  --merge + amend-->  Merged  --generate-->  Rust
//! openapi/amendments.json   --------------^
//! ```
//!
//! * [`fragment`]: reading and checking the per-endpoint OpenAPI 3.0.x documents;
//! * [`amend`]: our declared fixes to them, as data with reasons (`rewrite`: the JSON walks and
//!   rewrites they are made of);
//! * [`merge`]: one deterministic document out of many (`refs`: every `$ref` resolves, no cycle
//!   without an optional step);
//! * [`generate`]: progenitor (builder interface) formatted with prettyplease, then the passes
//!   over its output ([`passes`], and [`deprecations`]: `#[deprecated]` for what the spec
//!   deprecates);
//! * [`import`]: one fragment per operation out of a docs page, a module file or a whole spec;
//! * [`oas31`]: OpenAPI 3.1 read as the 3.0 model (by `import` and `diff`), and the keywords it
//!   cannot say;
//! * [`diff`]: what changed in the API between two specs, and whether it breaks users (its modules:
//!   `model` the data, `ops` the operations by the path the client calls, `moves` where a removed
//!   one went, `walk` operations and parameters, `lifecycle` deprecation, sunset and stability,
//!   `bodies` request bodies, media types and responses, `schema` and `constraints` the schema
//!   rules, `security`, `flat` the flattened schema, `render` the text, JSON and Markdown
//!   reports, `oasdiff` oasdiff's rule ids and ignore files);
//! * [`api_listing`]: the public Rust API of a crate, to compare before and after;
//! * [`regen`]: the whole pipeline, one unit per namespace (the API tokens pages, each platform
//!   module), and writing or checking its outputs;
//! * [`naming`]: the operationId rule; [`split`]: a whole spec into one fragment per operation;
//! * [`limits`]: the declared passes over the generator's copy for what progenitor cannot express.
#![deny(missing_docs)]

pub mod amend;
pub mod api_listing;
pub mod deprecations;
pub mod diff;
pub mod error;
pub mod fragment;
pub mod generate;
pub mod import;
pub mod inflect;
pub mod limits;
pub mod merge;
pub mod naming;
pub mod oas31;
pub mod passes;
pub mod regen;
pub mod split;

pub use error::{Error, Result};
