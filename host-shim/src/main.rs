fn main() -> std::process::ExitCode {
    cloudcx_shim::cli::main()
}
