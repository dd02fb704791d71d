#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goward::fuzzing::module_zip(data));
