//! Integration tests of the OSSI codec.
