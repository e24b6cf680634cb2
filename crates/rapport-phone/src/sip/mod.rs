//! Our wrapper around `rsipstack`: binds the transport, runs the endpoint and the incoming-request loop, and hands inbound INVITEs and dialog events to the call actor. The rest of the crate never names rsipstack types outside `sip` and `call`.

pub mod register;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog::{Dialog, DialogState, DialogStateReceiver, DialogStateSender};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, Request, SipMessage, StatusCode, StatusCodeKind};
use rsipstack::transaction::Transaction;
use rsipstack::transaction::endpoint::{EndpointInnerRef, EndpointOption};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transport::{SipAddr, TransportLayer, udp::UdpConnection};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::PhoneError;

/// Our Call-ID suffix, so our calls are recognisable in traces.
pub const CALL_ID_SUFFIX: &str = "rapport";
/// The User-Agent header we send.
pub const USER_AGENT: &str = concat!("Rapport/", env!("CARGO_PKG_VERSION"));

/// An INVITE that created a new server dialog.
pub struct IncomingInvite {
    /// The dialog (answer, reject, ringing go through it).
    pub dialog: InviteDialog,
    /// The caller: the From header value (display name, URI and parameters).
    pub from: String,
    /// The SDP offer, if the INVITE had a body.
    pub offer: Vec<u8>,
}

/// A running SIP endpoint.
pub struct SipEndpoint {
    /// The dialog layer (INVITEs, in-dialog requests).
    pub dialog_layer: Arc<DialogLayer>,
    /// The endpoint itself (registrations use it).
    pub endpoint: rsipstack::transaction::Endpoint,
    /// Dialog state sender shared by all dialogs; states carry the Call-ID.
    pub states: DialogStateSender,
    /// Local signalling address.
    pub local: SocketAddr,
    cancel: CancellationToken,
}

impl std::fmt::Debug for SipEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipEndpoint")
            .field("local", &self.local)
            .finish()
    }
}

impl Drop for SipEndpoint {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The local address that routes towards `target` (no packet is sent).
pub fn local_ip_towards(target: IpAddr) -> IpAddr {
    if target.is_loopback() {
        return target;
    }
    let bind: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        "[::]:0".parse().unwrap_or(([0, 0, 0, 0], 0).into())
    };
    std::net::UdpSocket::bind(bind)
        .and_then(|s| {
            s.connect(SocketAddr::new(target, 9))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

impl SipEndpoint {
    /// Bind UDP on `local` (TCP connections are dialled on demand) and start serving.
    /// Returns the endpoint, the inbound-INVITE stream and the dialog-state stream.
    pub async fn start(
        local: SocketAddr,
    ) -> Result<
        (
            Self,
            mpsc::UnboundedReceiver<IncomingInvite>,
            DialogStateReceiver,
        ),
        PhoneError,
    > {
        Self::start_with_tls(local, None).await
    }

    /// Like `start`, and TLS connections (dialled on demand) verify the server against
    /// the PEM CA certificates in `tls_trust` (see `account::load_tls_trust`).
    pub async fn start_with_tls(
        local: SocketAddr,
        tls_trust: Option<Vec<u8>>,
    ) -> Result<
        (
            Self,
            mpsc::UnboundedReceiver<IncomingInvite>,
            DialogStateReceiver,
        ),
        PhoneError,
    > {
        let cancel = CancellationToken::new();
        let transport_layer = TransportLayer::new(cancel.child_token());
        let udp = UdpConnection::create_connection(local, None, Some(cancel.child_token())).await?;
        let local = udp.get_addr().get_socketaddr()?;
        transport_layer.add_transport(udp.into());
        #[cfg(feature = "tls")]
        if let Some(ca_certs) = tls_trust {
            transport_layer.set_tls_config(rsipstack::transport::tls::TlsConfig {
                ca_certs: Some(ca_certs),
                ..Default::default()
            });
        }
        #[cfg(not(feature = "tls"))]
        if tls_trust.is_some() {
            return Err(PhoneError::InvalidConfig {
                field: "transport",
                reason: "TLS needs the `tls` feature".into(),
            });
        }
        let option = EndpointOption {
            callid_suffix: Some(CALL_ID_SUFFIX.into()),
            ..Default::default()
        };
        let endpoint = EndpointBuilder::new()
            .with_user_agent(USER_AGENT)
            .with_transport_layer(transport_layer)
            .with_cancel_token(cancel.child_token())
            .with_option(option)
            .build();
        let dialog_layer = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let mut incoming = endpoint.incoming_transactions()?;
        let inner = endpoint.inner.clone();
        tokio::spawn(async move {
            let _ = inner.serve().await;
        });
        let (states, state_rx) = mpsc::unbounded_channel();
        let (invites, invite_rx) = mpsc::unbounded_channel();
        let layer = dialog_layer.clone();
        let state_tx = states.clone();
        let contact = dialog_layer
            .build_local_contact(Some("rapport".into()), None)
            .ok();
        let token = cancel.clone();
        tokio::spawn(async move {
            loop {
                let mut tx = tokio::select! {
                    _ = token.cancelled() => break,
                    tx = incoming.recv() => match tx { Some(tx) => tx, None => break },
                };
                let has_to_tag = tx
                    .original
                    .to_header()
                    .ok()
                    .and_then(|t| t.tag().ok().flatten())
                    .is_some();
                if has_to_tag {
                    match layer.match_dialog(&tx) {
                        Some(mut dialog) => {
                            tokio::spawn(async move {
                                let _ = dialog.handle(&mut tx).await;
                            });
                        }
                        None if tx.original.method == Method::Ack => {}
                        None => {
                            let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                        }
                    }
                    continue;
                }
                match tx.original.method {
                    Method::Invite => {
                        let dialog = match layer.get_or_create_server_invite(
                            &tx,
                            state_tx.clone(),
                            None,
                            contact.clone(),
                        ) {
                            Ok(d) => d,
                            Err(e) => {
                                tracing::warn!(error = %e, "refusing INVITE");
                                let _ = tx.reply(StatusCode::BadRequest).await;
                                continue;
                            }
                        };
                        // the whole From value: the display name names an unknown caller
                        let from = tx
                            .original
                            .from_header()
                            .ok()
                            .map(|f| f.value().to_string())
                            .unwrap_or_default();
                        let offer = tx.original.body.clone();
                        let mut handler = Dialog::Invite(dialog.clone());
                        tokio::spawn(async move {
                            let _ = handler.handle(&mut tx).await;
                        });
                        let _ = invites.send(IncomingInvite {
                            dialog,
                            from,
                            offer,
                        });
                    }
                    Method::Options => {
                        let _ = tx.reply(StatusCode::OK).await;
                    }
                    Method::Ack => {}
                    Method::Bye | Method::Cancel => {
                        let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                    }
                    _ => {
                        let _ = tx.reply(StatusCode::MethodNotAllowed).await;
                    }
                }
            }
        });
        Ok((
            SipEndpoint {
                dialog_layer,
                endpoint,
                states,
                local,
                cancel,
            },
            invite_rx,
            state_rx,
        ))
    }

    /// A local URI for `user` on our signalling address.
    pub fn local_uri(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.local)
    }
}

/// CANCEL `invite` (the INVITE as last sent, i.e. after any auth retry) in a transaction of its
/// own, towards `destination` (where the INVITE went); returns the CANCEL's final status.
/// Ours rather than rsipstack's `cancel()`, which marks the dialog so that a 2xx crossing the
/// CANCEL is ended by rsipstack behind our back: the actor ends every unwanted 2xx itself.
pub async fn send_cancel(
    endpoint: EndpointInnerRef,
    invite: &Request,
    destination: Option<SipAddr>,
) -> Result<u16, PhoneError> {
    let request = cancel_request(invite)?;
    let key = TransactionKey::from_request(&request, TransactionRole::Client)?;
    let mut tx = Transaction::new_client(key, request, endpoint, None);
    tx.destination = destination;
    tx.send().await?;
    while let Some(message) = tx.receive().await {
        if let SipMessage::Response(resp) = message
            && resp.status_code.kind() != StatusCodeKind::Provisional
        {
            return Ok(resp.status_code.code());
        }
    }
    Err(PhoneError::Sip("CANCEL got no final response".into()))
}

/// The CANCEL of `invite` (RFC 3261 §9.1): its Request-URI, Call-ID, From, To, CSeq number,
/// top Via and Route headers, method CANCEL, no body.
pub fn cancel_request(invite: &Request) -> Result<Request, PhoneError> {
    let mut request = invite.clone();
    request.method = Method::Cancel;
    request.body = Vec::new();
    let mut vias = 0;
    request.headers.retain(|h| match h {
        Header::Via(_) => {
            vias += 1;
            vias == 1
        }
        Header::From(_)
        | Header::To(_)
        | Header::CallId(_)
        | Header::CSeq(_)
        | Header::Route(_)
        | Header::MaxForwards(_)
        | Header::UserAgent(_) => true,
        _ => false,
    });
    request.cseq_header_mut()?.mut_method(Method::Cancel)?;
    request.headers.push(Header::ContentLength(0u32.into()));
    Ok(request)
}

/// The Call-ID a dialog state belongs to.
pub fn state_call_id(state: &DialogState) -> &str {
    let id = match state {
        DialogState::Calling(id)
        | DialogState::Trying(id)
        | DialogState::Early(id, _)
        | DialogState::WaitAck(id, _)
        | DialogState::Confirmed(id, _)
        | DialogState::Updated(id, _, _)
        | DialogState::Publish(id, _, _)
        | DialogState::Notify(id, _, _)
        | DialogState::Refer(id, _, _)
        | DialogState::Message(id, _, _)
        | DialogState::Info(id, _, _)
        | DialogState::Options(id, _, _)
        | DialogState::Terminated(id, _) => id,
    };
    &id.call_id
}
