//! The `triage` command: the CLI face, [`triage::faces::cli`].

fn main() {
    triage::faces::cli::main()
}
