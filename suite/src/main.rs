use std::process::ExitCode;

fn main() -> ExitCode {
    suite::cli::main()
}
