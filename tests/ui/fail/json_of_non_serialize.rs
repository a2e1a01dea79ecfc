struct Reading {
    celsius: f64,
}

fn main() {
    let _ = ssekit::Event::json(&Reading { celsius: 21.5 });
}
