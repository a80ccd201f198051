fn main() {
    std::process::exit(royalty_audit::cli::run());
}
