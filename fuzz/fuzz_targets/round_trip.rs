#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mock_idp::fuzzing::round_trip(data));
