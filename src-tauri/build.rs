//! Build script: lets tauri-build embed the config, capabilities and icons.
fn main() {
    tauri_build::build()
}
