#![no_main]
use mcp_authspec_fuzz::jsonwebtoken_reference::verdict;
libfuzzer_sys::fuzz_target!(|data: &[u8]| mock_idp::fuzzing::differential_jws(data, &verdict));
