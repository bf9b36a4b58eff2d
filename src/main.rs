use std::process::ExitCode;

fn main() -> ExitCode {
    kensa::main_with_args(std::env::args_os())
}
