//! The sandbox server: one listener per emulated vendor on `127.0.0.1`, a custom accept loop
//! (so faults can act on the TCP connection itself), fault injection, request stats and
//! shutdown on [`Sandbox::shutdown`] or drop.
//!
//! The server runs on its own small Tokio runtime in a dedicated thread, so it works the same
//! from synchronous code and from inside a test's async runtime.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Request, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, oneshot};

use crate::faults::{Fault, FaultPlan, FaultState};
use crate::freshdesk::{FreshdeskApp, FreshdeskConfig};
use crate::ga4::{Ga4App, Ga4Config};
use crate::google_ads::{GoogleAdsApp, GoogleAdsConfig};
use crate::hubspot::{HubspotApp, HubspotConfig};
use crate::intercom::{IntercomApp, IntercomConfig};
use crate::linkedin::{LinkedinApp, LinkedinConfig};
use crate::meta::{MetaApp, MetaConfig};
use crate::pipedrive::{PipedriveApp, PipedriveConfig};
use crate::salesforce::{SalesforceApp, SalesforceConfig, SalesforceControl};
use crate::stats::{Stats, StatsSnapshot};
use crate::stripe::{StripeApp, StripeConfig};
use crate::world::{SharedWorld, World, WorldConfig};
use crate::zendesk::{ZendeskApp, ZendeskConfig};

/// Everything a sandbox needs: the world, per-vendor settings and the fault plan. Every
/// section has defaults, so an empty TOML document is a valid config.
///
/// ```toml
/// [world]
/// people = 1000000
///
/// [hubspot]
/// token = "pat-sandbox-token"
/// rate_limit = { max = 100, interval_ms = 10000 }
/// retry_after_secs = 1
///
/// [[faults.rules]]
/// fault = { kind = "status", code = 503 }
/// schedule = { kind = "every", n = 50 }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// The generated world all emulators render.
    pub world: WorldConfig,
    /// HubSpot emulator settings.
    pub hubspot: HubspotConfig,
    /// Zendesk Support emulator settings.
    pub zendesk: ZendeskConfig,
    /// Google Ads emulator settings.
    pub google_ads: GoogleAdsConfig,
    /// Google Analytics 4 emulator settings.
    pub ga4: Ga4Config,
    /// Meta Marketing API emulator settings.
    pub meta: MetaConfig,
    /// LinkedIn Marketing API emulator settings.
    pub linkedin: LinkedinConfig,
    /// Salesforce emulator settings.
    pub salesforce: SalesforceConfig,
    /// Stripe emulator settings.
    pub stripe: StripeConfig,
    /// Pipedrive emulator settings.
    pub pipedrive: PipedriveConfig,
    /// Freshdesk emulator settings.
    pub freshdesk: FreshdeskConfig,
    /// Intercom emulator settings.
    pub intercom: IntercomConfig,
    /// Faults active from the start (change later with [`Sandbox::set_faults`]).
    pub faults: FaultPlan,
}

/// An emulated vendor API; each listens on its own port.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// HubSpot CRM v3.
    Hubspot,
    /// Zendesk Support (tickets, users, organizations).
    Zendesk,
    /// Google Ads API (searchStream with GAQL) and Google's OAuth2 token endpoint.
    GoogleAds,
    /// Google Analytics 4 Data API (runReport) and Google's OAuth2 token endpoint.
    Ga4,
    /// Meta Marketing API (Graph API ads objects and insights).
    Meta,
    /// LinkedIn Marketing API (ad accounts, campaigns, adAnalytics).
    Linkedin,
    /// Stripe (billing).
    Stripe,
    /// Salesforce REST (SOQL) and its OAuth2 token endpoint.
    Salesforce,
    /// Pipedrive (v2 and v1 REST).
    Pipedrive,
    /// Freshdesk (tickets, conversations, contacts, companies).
    Freshdesk,
    /// Intercom (conversations, contacts, companies, admins, teams).
    Intercom,
}

impl Vendor {
    /// Every vendor the sandbox emulates.
    pub const ALL: &'static [Vendor] = &[
        Vendor::Hubspot,
        Vendor::Zendesk,
        Vendor::Stripe,
        Vendor::Salesforce,
        Vendor::Pipedrive,
        Vendor::GoogleAds,
        Vendor::Ga4,
        Vendor::Meta,
        Vendor::Linkedin,
        Vendor::Freshdesk,
        Vendor::Intercom,
    ];

    /// Lower-case name, e.g. `hubspot` (also the prefix of its stats route kinds).
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Hubspot => "hubspot",
            Vendor::Zendesk => "zendesk",
            Vendor::GoogleAds => "google_ads",
            Vendor::Ga4 => "ga4",
            Vendor::Meta => "meta",
            Vendor::Linkedin => "linkedin",
            Vendor::Stripe => "stripe",
            Vendor::Salesforce => "salesforce",
            Vendor::Intercom => "intercom",
            Vendor::Pipedrive => "pipedrive",
            Vendor::Freshdesk => "freshdesk",
        }
    }
}

/// Route kind and record count a handler attaches to its response (read by the server for
/// stats, then removed).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RouteInfo {
    pub(crate) kind: &'static str,
    pub(crate) records: u64,
}

/// A vendor emulator behind a listener.
enum App {
    Hubspot(HubspotApp),
    Zendesk(ZendeskApp),
    GoogleAds(GoogleAdsApp),
    Ga4(Ga4App),
    Meta(MetaApp),
    Linkedin(LinkedinApp),
    Stripe(StripeApp),
    Salesforce(SalesforceApp),
    Intercom(IntercomApp),
    Pipedrive(PipedriveApp),
    Freshdesk(FreshdeskApp),
}

impl App {
    async fn handle(&self, req: Request<Body>) -> Response {
        match self {
            App::Hubspot(h) => h.handle(req).await,
            App::Zendesk(z) => z.handle(req).await,
            App::GoogleAds(g) => g.handle(req).await,
            App::Ga4(g) => g.handle(req).await,
            App::Meta(m) => m.handle(req).await,
            App::Linkedin(l) => l.handle(req).await,
            App::Stripe(s) => s.handle(req).await,
            App::Salesforce(s) => s.handle(req).await,
            App::Intercom(i) => i.handle(req).await,
            App::Pipedrive(p) => p.handle(req).await,
            App::Freshdesk(f) => f.handle(req).await,
        }
    }

    fn fault_response(&self, fault: &Fault) -> Option<Response> {
        match self {
            App::Hubspot(h) => h.fault_response(fault),
            App::Zendesk(z) => z.fault_response(fault),
            App::GoogleAds(g) => g.fault_response(fault),
            App::Ga4(g) => g.fault_response(fault),
            App::Meta(m) => m.fault_response(fault),
            App::Linkedin(l) => l.fault_response(fault),
            App::Stripe(s) => s.fault_response(fault),
            App::Salesforce(s) => s.fault_response(fault),
            App::Intercom(i) => i.fault_response(fault),
            App::Pipedrive(p) => p.fault_response(fault),
            App::Freshdesk(f) => f.fault_response(fault),
        }
    }

    /// Extra text fault rules can match for a request, beyond its path, query and body
    /// (Salesforce: the queried object, `object=Lead`, also on `nextRecordsUrl` pages).
    fn fault_hint(&self, uri: &http::Uri) -> Option<String> {
        match self {
            App::Salesforce(s) => s.fault_hint(uri),
            _ => None,
        }
    }
}

/// State shared by every connection of a sandbox.
struct Shared {
    stats: Stats,
    faults: Mutex<FaultState>,
}

/// A running sandbox: fake vendor APIs over one shared, mutable world.
///
/// Dropping it (or calling [`Sandbox::shutdown`]) stops the listeners and closes every
/// connection before returning.
pub struct Sandbox {
    config: SandboxConfig,
    world: SharedWorld,
    shared: Arc<Shared>,
    endpoints: Vec<(Vendor, SocketAddr)>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    salesforce: Option<SalesforceControl>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Generates the world and starts every emulator on a free port of `127.0.0.1`.
    pub fn start(config: SandboxConfig) -> io::Result<Sandbox> {
        let world = SharedWorld::new(World::new(config.world.clone()));
        Sandbox::start_with_world(config, world)
    }

    /// Starts the emulators over an existing world (`config.world` is then only informative).
    pub fn start_with_world(config: SandboxConfig, world: SharedWorld) -> io::Result<Sandbox> {
        let shared = Arc::new(Shared {
            stats: Stats::default(),
            faults: Mutex::new(FaultState::new(config.faults.clone())),
        });
        let mut listeners = Vec::new();
        let mut endpoints = Vec::new();
        let mut salesforce = None;
        for &vendor in Vendor::ALL {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            listener.set_nonblocking(true)?;
            let addr = listener.local_addr()?;
            let base_url = format!("http://{addr}");
            let app = match vendor {
                Vendor::Hubspot => App::Hubspot(HubspotApp::new(
                    world.clone(),
                    config.hubspot.clone(),
                    base_url,
                )),
                Vendor::Zendesk => App::Zendesk(ZendeskApp::new(
                    world.clone(),
                    config.zendesk.clone(),
                    base_url,
                )),
                Vendor::GoogleAds => App::GoogleAds(GoogleAdsApp::new(
                    world.clone(),
                    config.google_ads.clone(),
                    base_url,
                )),
                Vendor::Ga4 => App::Ga4(Ga4App::new(world.clone(), config.ga4.clone(), base_url)),
                Vendor::Meta => {
                    App::Meta(MetaApp::new(world.clone(), config.meta.clone(), base_url))
                }
                Vendor::Linkedin => {
                    App::Linkedin(LinkedinApp::new(world.clone(), config.linkedin.clone()))
                }
                Vendor::Stripe => App::Stripe(StripeApp::new(world.clone(), config.stripe.clone())),
                Vendor::Salesforce => {
                    let app =
                        SalesforceApp::new(world.clone(), config.salesforce.clone(), base_url);
                    salesforce = Some(app.control());
                    App::Salesforce(app)
                }
                Vendor::Intercom => App::Intercom(IntercomApp::new(
                    world.clone(),
                    config.intercom.clone(),
                    base_url,
                )),
                Vendor::Pipedrive => {
                    App::Pipedrive(PipedriveApp::new(world.clone(), config.pipedrive.clone()))
                }
                Vendor::Freshdesk => App::Freshdesk(FreshdeskApp::new(
                    world.clone(),
                    config.freshdesk.clone(),
                    base_url,
                )),
            };
            endpoints.push((vendor, addr));
            listeners.push((listener, Arc::new((vendor, app))));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("revline-sandbox")
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("revline-sandbox".into())
            .spawn(move || {
                runtime.block_on(async move {
                    for (listener, app) in listeners {
                        match TcpListener::from_std(listener) {
                            Ok(listener) => {
                                tokio::spawn(accept_loop(listener, app, thread_shared.clone()));
                            }
                            Err(e) => tracing::error!("sandbox listener: {e}"),
                        }
                    }
                    let _ = stopped.await;
                });
                // Cancels the accept loops and every connection task, closing their sockets.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(Sandbox {
            config,
            world,
            shared,
            endpoints,
            stop: Some(stop),
            thread: Some(thread),
            salesforce,
        })
    }

    /// Socket address of a vendor's emulator.
    pub fn addr(&self, vendor: Vendor) -> SocketAddr {
        self.endpoints
            .iter()
            .find(|(v, _)| *v == vendor)
            .map(|(_, a)| *a)
            .expect("every vendor has an endpoint")
    }

    /// Base URL of a vendor's emulator, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self, vendor: Vendor) -> String {
        format!("http://{}", self.addr(vendor))
    }

    /// Base URL of the HubSpot emulator (stands in for `https://api.hubapi.com`).
    pub fn hubspot_url(&self) -> String {
        self.base_url(Vendor::Hubspot)
    }

    /// The bearer token the HubSpot emulator accepts.
    pub fn hubspot_token(&self) -> &str {
        &self.config.hubspot.token
    }

    /// The agent email and API token the Zendesk emulator accepts (basic auth as
    /// `{email}/token:{api_token}`).
    pub fn zendesk_credentials(&self) -> (&str, &str) {
        (&self.config.zendesk.email, &self.config.zendesk.api_token)
    }

    /// The API key the Freshdesk emulator accepts (the basic-auth user, any password).
    pub fn freshdesk_api_key(&self) -> &str {
        &self.config.freshdesk.api_key
    }

    /// The access token the Intercom emulator accepts (`Authorization: Bearer`).
    pub fn intercom_token(&self) -> &str {
        &self.config.intercom.token
    }

    /// The secret key the Stripe emulator accepts.
    pub fn stripe_key(&self) -> &str {
        &self.config.stripe.secret_key
    }

    /// The API token the Pipedrive emulator accepts (`x-api-token`).
    pub fn pipedrive_token(&self) -> &str {
        &self.config.pipedrive.api_token
    }

    /// The Salesforce emulator's login host (its token endpoint), e.g.
    /// `http://127.0.0.1:41234`; the API host is the `instance_url` its tokens come with.
    pub fn salesforce_url(&self) -> String {
        self.base_url(Vendor::Salesforce)
    }

    /// The Salesforce emulator's connected app, refresh token and limits.
    pub fn salesforce_config(&self) -> &SalesforceConfig {
        &self.config.salesforce
    }

    /// A handle on the running Salesforce emulator (expire sessions, set the API usage).
    pub fn salesforce(&self) -> SalesforceControl {
        self.salesforce
            .clone()
            .expect("the Salesforce emulator runs with every sandbox")
    }

    /// The most requests `vendor`'s emulator received within any `window` (a sliding window
    /// over every request's arrival time since the last [`Sandbox::reset_stats`], faulted and
    /// rejected requests included). Tests use it to prove a client never exceeds a limit.
    pub fn max_requests_in_window(&self, vendor: Vendor, window: Duration) -> u64 {
        self.shared.stats.max_in_window(vendor.name(), window)
    }

    /// Like [`Sandbox::max_requests_in_window`] for the requests that reached any of the
    /// route kinds `kinds` (e.g. `["zendesk.tickets.export", "zendesk.users.export"]`, which
    /// share one limit), throttled ones included, by their arrival time.
    pub fn max_route_requests_in_window(&self, kinds: &[&str], window: Duration) -> u64 {
        self.shared.stats.max_route_in_window(kinds, window)
    }

    /// The configuration the sandbox was started with (faults as initially configured).
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The shared world; take `.write()` to mutate it while the server runs.
    pub fn world(&self) -> SharedWorld {
        self.world.clone()
    }

    /// A copy of the request counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Zeroes the request counters.
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    /// Replaces the fault plan (and restarts its per-rule request counts).
    pub fn set_faults(&self, plan: FaultPlan) {
        *self.shared.faults.lock().unwrap_or_else(|e| e.into_inner()) = FaultState::new(plan);
    }

    /// Stops the server and waits until its sockets are closed (same as dropping it).
    pub fn shutdown(mut self) {
        self.stop_server();
    }

    fn stop_server(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_server();
    }
}

async fn accept_loop(listener: TcpListener, app: Arc<(Vendor, App)>, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_connection(stream, app.clone(), shared.clone()));
            }
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!("sandbox accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// Splits a stream into the stream hyper serves and a second handle on the same socket, used
/// to set `SO_LINGER` 0 for an abortive close (RST).
fn with_reset_handle(stream: TcpStream) -> io::Result<(TcpStream, TcpSocket)> {
    let std_stream = stream.into_std()?;
    let dup = std_stream.try_clone()?;
    Ok((
        TcpStream::from_std(std_stream)?,
        TcpSocket::from_std_stream(dup),
    ))
}

async fn serve_connection(stream: TcpStream, app: Arc<(Vendor, App)>, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let (stream, reset_handle) = match with_reset_handle(stream) {
        Ok(parts) => parts,
        Err(e) => {
            tracing::warn!("sandbox connection setup failed: {e}");
            return;
        }
    };
    let reset = Arc::new(Notify::new());
    let service_reset = reset.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let app = app.clone();
        let shared = shared.clone();
        let reset = service_reset.clone();
        async move {
            let (vendor, app) = &*app;
            Ok::<_, Infallible>(handle(req.map(Body::new), *vendor, app, &shared, &reset).await)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = reset.notified() => {
            // Abortive close: the last close of the socket sends RST instead of FIN.
            let _ = reset_handle.set_zero_linger();
        }
    }
}

async fn handle(
    req: Request<Body>,
    vendor: Vendor,
    app: &App,
    shared: &Shared,
    reset: &Notify,
) -> Response {
    let arrived = Instant::now();
    shared.stats.request(vendor.name());
    // Rules match the path, the query string or the body (a GAQL query, a report request).
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let mut target = fault_target(&parts.uri, &body);
    if let Some(hint) = app.fault_hint(&parts.uri) {
        target.push(' ');
        target.push_str(&hint);
    }
    let req = Request::from_parts(parts, Body::from(body));
    let decision = shared
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .decide(&target);
    shared.stats.faults(&decision.fired);
    if decision.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
    }
    let mut resp = match decision.fault {
        None => app.handle(req).await,
        Some(Fault::ConnectionReset) => {
            reset.notify_one();
            // The connection task drops this request (and the socket) right away.
            std::future::pending::<()>().await;
            unreachable!("the connection is dropped before this resolves")
        }
        Some(Fault::TruncatedBody) => truncate(app.handle(req).await).await,
        Some(fault) => match app.fault_response(&fault) {
            Some(resp) => resp,
            None => app.handle(req).await,
        },
    };
    let route = resp
        .extensions_mut()
        .remove::<RouteInfo>()
        .map(|r| (r.kind, r.records));
    if let Some((kind, _)) = route {
        shared.stats.route_arrival(kind, arrived);
    }
    shared.stats.response(route, resp.status().as_u16());
    resp
}

/// What fault rules match a request against: `path?query body`.
fn fault_target(uri: &http::Uri, body: &[u8]) -> String {
    let mut t = uri.path().to_string();
    if let Some(q) = uri.query() {
        t.push('?');
        t.push_str(q);
    }
    if !body.is_empty() {
        t.push(' ');
        t.push_str(&String::from_utf8_lossy(body));
    }
    t
}

/// Cuts a response body roughly in half, keeping a matching `Content-Length`.
async fn truncate(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let cut = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(cut.len()));
    Response::from_parts(parts, Body::from(cut))
}
