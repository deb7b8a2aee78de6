fn main() -> std::process::ExitCode {
    m3ter_reconcile::cli::main()
}
