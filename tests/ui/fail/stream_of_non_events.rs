use futures_util::stream;
use ssekit::EventStream;

fn main() {
    let _ = EventStream::new(stream::iter([1, 2, 3]));
}
