//! Integration tests of the syslog codec and the notify event format.

mod docs;
mod fuzz_corpus;
mod proptests;
