#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mock_idp::fuzzing::dpop_proof(data));
