//! Every hub scenario against every framework: `cargo test -p
//! ssekit-conformance --test hub -- --list` shows the matrix as
//! `<framework>::<scenario>`.

macro_rules! hub_tests {
    ($driver:ty; $($scenario:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $scenario() {
            ssekit_conformance::run(ssekit_conformance::hub_scenarios::$scenario::<$driver>()).await;
        }
    )*};
}

mod axum {
    ssekit_conformance::for_each_hub_scenario!(hub_tests!(
        ssekit_conformance::frameworks::axum::Axum
    ));
}

mod actix_web {
    ssekit_conformance::for_each_hub_scenario!(hub_tests!(
        ssekit_conformance::frameworks::actix_web::ActixWeb
    ));
}

mod warp {
    ssekit_conformance::for_each_hub_scenario!(hub_tests!(
        ssekit_conformance::frameworks::warp::Warp
    ));
}

mod poem {
    ssekit_conformance::for_each_hub_scenario!(hub_tests!(
        ssekit_conformance::frameworks::poem::Poem
    ));
}
