#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goward::fuzzing::request_path(data));
