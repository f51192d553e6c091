// Prints what Rust's standard library thinks the program may run in parallel: the affinity mask's
// count, lowered by the cgroup CPU quota where this Rust reads it (tests/integration/quota.sh).
fn main() {
    match std::thread::available_parallelism() {
        Ok(n) => println!("{}", n),
        Err(e) => println!("error: {}", e),
    }
}
