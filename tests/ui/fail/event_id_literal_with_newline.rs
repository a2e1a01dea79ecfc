fn main() {
    let _ = ssekit::Event::new("x").id(ssekit::event_id!("1\ndata: injected"));
}
