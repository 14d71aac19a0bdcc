//! The playground page: `trunk build` compiles this binary to wasm32 and mounts `app::App`
//! on `<body>`. Natively it only says how to build it.

#[cfg(target_arch = "wasm32")]
mod app;

#[cfg(target_arch = "wasm32")]
fn main() {
    // The scale view's worker instantiates this same module: it has no window and no page.
    if web_sys::window().is_some() {
        yew::Renderer::<app::App>::new().render();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "web-ui's app runs in the browser: build it with scripts/build-web (trunk) and serve it with scripts/run"
    );
    std::process::exit(2);
}
