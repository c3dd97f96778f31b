//! Integration tests of the OSSI codec.

mod fuzz_corpus;
mod proptests;
