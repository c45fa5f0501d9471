//! The code generator's tests, one binary, one module per topic: the real spec through the whole
//! pipeline (`real_spec`, snapshots in `snapshots/`), the published fragments' traps (`traps`),
//! merge refusals (`merge_errors`), `$ref` cycles (`cycles`), seeded mutations (`mutations`), and
//! each rule of the API change report (`diff_rules`).

mod cycles;
mod diff_rules;
mod import;
mod merge_errors;
mod mutations;
mod real_spec;
mod traps;
