//! The Microsoft Graph endpoints: `GET /v1.0/subscribedSkus` and `GET /v1.0/users` with
//! `$select`, `$top` and server-driven paging, permission checks, and Graph-style errors.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::GraphState;
use super::directory::{SignIn, User, guid};
use super::login::{
    AUDIT_LOG_READ_ALL, DIRECTORY_READ_ALL, Issued, LICENSE_ASSIGNMENT_READ_ALL,
    ORGANIZATION_READ_ALL, Refused, USER_READ_ALL, base64_decode, base64url, json_response,
};
use crate::rng::Rng;
use crate::server::query::Params;

/// `$top` without `signInActivity`: default and maximum.
pub(crate) const DEFAULT_TOP: u64 = 100;
pub(crate) const MAX_TOP: u64 = 999;
/// The page cap when `signInActivity` is selected.
pub(crate) const MAX_TOP_SIGN_IN: u64 = 120;

/// A Graph error: `{"error":{"code","message","innerError":{..}}}`.
#[derive(Debug)]
pub(crate) struct GraphError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl GraphError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    fn denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub(crate) fn render(self, state: &GraphState, headers: &HeaderMap) -> Response {
        let mut rng = Rng::derive(
            state.seed,
            0x7265_7100_0000
                + state
                    .error_serial
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        );
        let request_id = guid(&mut rng);
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| request_id.clone(), str::to_owned);
        let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
        let body = serde_json::json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": date,
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                }
            }
        });
        let mut response = json_response(self.status, body.to_string());
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("request-id", value.clone());
            response.headers_mut().insert("client-request-id", value);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000""#),
            );
        }
        response
    }
}

type Result<T> = std::result::Result<T, GraphError>;

fn authenticate(state: &GraphState, headers: &HeaderMap) -> Result<Issued> {
    let invalid = |message: &str| {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ if value.is_empty() => return Err(invalid("Access token is empty.")),
        _ => return Err(invalid("The Authorization header is not a bearer token.")),
    };
    if token.is_empty() {
        return Err(invalid("Access token is empty."));
    }
    state.tokens.check(token).map_err(|refused| match refused {
        Refused::Unknown => invalid("Access token validation failure: the token is not well formed or was not issued for this tenant."),
        Refused::Expired => invalid("Lifetime validation failed, the token is expired."),
        Refused::Revoked => invalid("The token was revoked: the client secret it was issued for was removed."),
    })
}

fn require_any(grant: &Issued, permissions: &[&str]) -> Result<()> {
    if permissions.iter().any(|p| grant.roles.contains(p)) {
        Ok(())
    } else {
        Err(GraphError::denied())
    }
}

/// `GET /v1.0/subscribedSkus`.
pub(crate) async fn subscribed_skus(
    State(state): State<Arc<GraphState>>,
    headers: HeaderMap,
) -> Response {
    let result = authenticate(&state, &headers).and_then(|grant| {
        require_any(
            &grant,
            &[
                LICENSE_ASSIGNMENT_READ_ALL,
                ORGANIZATION_READ_ALL,
                DIRECTORY_READ_ALL,
            ],
        )
    });
    if let Err(error) = result {
        return error.render(&state, &headers);
    }
    let value: Vec<serde_json::Value> = state
        .directory
        .skus
        .iter()
        .map(|sku| {
            serde_json::json!({
                "accountName": state.company.name(),
                "accountId": state.tenant_id,
                "appliesTo": "User",
                "capabilityStatus": sku.capability_status,
                "consumedUnits": sku.consumed,
                "id": format!("{}_{}", state.tenant_id, sku.sku_id),
                "prepaidUnits": {
                    "enabled": sku.enabled,
                    "suspended": sku.suspended,
                    "warning": sku.warning,
                    "lockedOut": 0,
                },
                "servicePlans": sku.service_plans.iter().map(|(id, name)| serde_json::json!({
                    "servicePlanId": id,
                    "servicePlanName": name,
                    "provisioningStatus": "Success",
                    "appliesTo": "User",
                })).collect::<Vec<_>>(),
                "skuId": sku.sku_id,
                "skuPartNumber": sku.part_number,
                "subscriptionIds": [],
            })
        })
        .collect();
    let body = serde_json::json!({
        "@odata.context": format!("{}/v1.0/$metadata#subscribedSkus", state.graph_url),
        "value": value,
    });
    json_response(StatusCode::OK, body.to_string())
}

/// User properties the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prop {
    Id,
    UserPrincipalName,
    Mail,
    OtherMails,
    ProxyAddresses,
    AccountEnabled,
    UserType,
    CreatedDateTime,
    AssignedLicenses,
    SignInActivity,
    DisplayName,
    GivenName,
    Surname,
    JobTitle,
    BusinessPhones,
    MobilePhone,
    OfficeLocation,
    PreferredLanguage,
}

const PROPS: [(Prop, &str); 18] = [
    (Prop::Id, "id"),
    (Prop::UserPrincipalName, "userPrincipalName"),
    (Prop::Mail, "mail"),
    (Prop::OtherMails, "otherMails"),
    (Prop::ProxyAddresses, "proxyAddresses"),
    (Prop::AccountEnabled, "accountEnabled"),
    (Prop::UserType, "userType"),
    (Prop::CreatedDateTime, "createdDateTime"),
    (Prop::AssignedLicenses, "assignedLicenses"),
    (Prop::SignInActivity, "signInActivity"),
    (Prop::DisplayName, "displayName"),
    (Prop::GivenName, "givenName"),
    (Prop::Surname, "surname"),
    (Prop::JobTitle, "jobTitle"),
    (Prop::BusinessPhones, "businessPhones"),
    (Prop::MobilePhone, "mobilePhone"),
    (Prop::OfficeLocation, "officeLocation"),
    (Prop::PreferredLanguage, "preferredLanguage"),
];

/// What comes back without `$select`.
const DEFAULT_PROPS: [Prop; 11] = [
    Prop::BusinessPhones,
    Prop::DisplayName,
    Prop::GivenName,
    Prop::JobTitle,
    Prop::Mail,
    Prop::MobilePhone,
    Prop::OfficeLocation,
    Prop::PreferredLanguage,
    Prop::Surname,
    Prop::UserPrincipalName,
    Prop::Id,
];

fn prop_name(prop: Prop) -> &'static str {
    PROPS
        .iter()
        .find(|(p, _)| *p == prop)
        .map_or("id", |(_, name)| name)
}

fn parse_select(text: &str) -> Result<Vec<Prop>> {
    let mut props = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let prop = PROPS
            .iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(name))
            .map(|(p, _)| *p)
            .ok_or_else(|| {
                GraphError::bad_request(format!(
                    "Could not find a property named '{name}' on type 'microsoft.graph.user'."
                ))
            })?;
        if !props.contains(&prop) {
            props.push(prop);
        }
    }
    Ok(props)
}

/// Where a page starts and which page of the listing it is (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    offset: u64,
    page: u64,
}

fn skiptoken_check(seed: u64, cursor: Cursor) -> u64 {
    let mut rng = Rng::derive(
        seed ^ cursor.offset.rotate_left(17),
        0x736B_6970 ^ cursor.page,
    );
    rng.next_u64() & 0xffff_ffff
}

fn encode_skiptoken(seed: u64, cursor: Cursor) -> String {
    let check = skiptoken_check(seed, cursor);
    base64url(
        format!(
            "HSIM\u{1}{}\u{1}{}\u{1}{check:08x}",
            cursor.offset, cursor.page
        )
        .as_bytes(),
    )
}

fn decode_skiptoken(seed: u64, token: &str) -> Option<Cursor> {
    let bytes = base64_decode(token)?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('\u{1}');
    (parts.next()? == "HSIM").then_some(())?;
    let cursor = Cursor {
        offset: parts.next()?.parse().ok()?,
        page: parts.next()?.parse().ok()?,
    };
    let check = u64::from_str_radix(parts.next()?, 16).ok()?;
    (parts.next().is_none() && check == skiptoken_check(seed, cursor)).then_some(cursor)
}

/// `GET /v1.0/users`.
pub(crate) async fn users(
    State(state): State<Arc<GraphState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match users_page(&state, &headers, query.as_deref()) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(error) => error.render(&state, &headers),
    }
}

fn users_page(state: &GraphState, headers: &HeaderMap, query: Option<&str>) -> Result<String> {
    let grant = authenticate(state, headers)?;
    require_any(&grant, &[USER_READ_ALL, DIRECTORY_READ_ALL])?;
    let params = Params::parse(query);
    if let Some(option) = params
        .keys()
        .find(|k| k.starts_with('$') && !matches!(*k, "$select" | "$top" | "$skiptoken"))
    {
        return Err(GraphError::bad_request(format!(
            "The simulator does not serve the query option '{option}' on /users; it serves $select, $top and $skiptoken."
        )));
    }
    let selected = params.get("$select").map(parse_select).transpose()?;
    let props: Vec<Prop> = selected.clone().unwrap_or_else(|| DEFAULT_PROPS.to_vec());
    let sign_in = props.contains(&Prop::SignInActivity);
    if sign_in {
        require_any(&grant, &[AUDIT_LOG_READ_ALL])?;
        if !state.premium {
            return Err(GraphError::new(
                StatusCode::FORBIDDEN,
                "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "This tenant has no Microsoft Entra ID P1 or P2 licence, so sign-in activity cannot be read.",
            ));
        }
    }
    let asked_top = match params.get("$top") {
        None => None,
        Some(text) => match text.trim().parse::<u64>() {
            Ok(n) if (1..=MAX_TOP).contains(&n) => Some(n),
            _ => {
                return Err(GraphError::bad_request(format!(
                    "Invalid page size '{text}': $top must be a whole number from 1 to {MAX_TOP}."
                )));
            }
        },
    };
    let mut top = asked_top.unwrap_or(DEFAULT_TOP);
    if sign_in && top > MAX_TOP_SIGN_IN {
        if state.refuse_large_sign_in_top {
            return Err(GraphError::bad_request(format!(
                "$top may be at most {MAX_TOP_SIGN_IN} when signInActivity is selected."
            )));
        }
        top = MAX_TOP_SIGN_IN;
    }
    let cursor = match params.get("$skiptoken") {
        None => Cursor { offset: 0, page: 1 },
        Some(token) => decode_skiptoken(state.seed, token).ok_or_else(|| {
            GraphError::new(
                StatusCode::BAD_REQUEST,
                "Directory_ExpiredPageToken",
                "The $skiptoken is not valid or has expired. Start the listing again without it.",
            )
        })?,
    };
    if state.faults().fail_page == Some(cursor.page) {
        return Err(GraphError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "General exception while processing.",
        ));
    }
    // Every third page comes back a little short, as Graph's sometimes do.
    let mut size = top;
    if state.short_pages && cursor.page % 3 == 2 && size > 1 {
        size -= size.div_ceil(4);
    }
    let users = &state.directory.users;
    let start = (cursor.offset as usize).min(users.len());
    let end = start.saturating_add(size as usize).min(users.len());

    let mut body = String::with_capacity(256 + (end - start) * 900);
    let context = match &selected {
        None => "users".to_owned(),
        Some(props) => format!(
            "users({})",
            props
                .iter()
                .map(|&p| prop_name(p))
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    let _ = write!(
        body,
        r#"{{"@odata.context":{},"#,
        serde_json::Value::from(format!("{}/v1.0/$metadata#{context}", state.graph_url))
    );
    if end < users.len() {
        let mut link = format!("{}/v1.0/users?", state.graph_url);
        if let Some(props) = &selected {
            link.push_str("$select=");
            link.push_str(
                &props
                    .iter()
                    .map(|&p| prop_name(p))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            link.push('&');
        }
        if let Some(top) = asked_top {
            let _ = write!(link, "$top={top}&");
        }
        let next = Cursor {
            offset: end as u64,
            page: cursor.page + 1,
        };
        let _ = write!(link, "$skiptoken={}", encode_skiptoken(state.seed, next));
        let _ = write!(
            body,
            r#""@odata.nextLink":{},"#,
            serde_json::Value::from(link)
        );
    }
    body.push_str(r#""value":["#);
    for (k, user) in users[start..end].iter().enumerate() {
        if k > 0 {
            body.push(',');
        }
        write_user(&mut body, state, user, &props);
    }
    body.push_str("]}");
    Ok(body)
}

fn string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

fn opt(value: Option<&str>) -> String {
    value.map_or_else(|| "null".to_owned(), string)
}

fn strings(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

fn write_user(out: &mut String, state: &GraphState, user: &User, props: &[Prop]) {
    out.push('{');
    for (k, &prop) in props.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        let value = match prop {
            Prop::Id => string(&user.id),
            Prop::UserPrincipalName => string(&user.upn),
            Prop::Mail => opt(user.mail.as_deref()),
            Prop::OtherMails => strings(&user.other_mails),
            Prop::ProxyAddresses => strings(&user.proxy_addresses),
            Prop::AccountEnabled => user.enabled.to_string(),
            Prop::UserType => string(if user.guest { "Guest" } else { "Member" }),
            Prop::CreatedDateTime => string(&user.created),
            Prop::AssignedLicenses => {
                let items: Vec<String> = user
                    .plan
                    .licences
                    .iter()
                    .map(|&l| {
                        format!(
                            r#"{{"disabledPlans":[],"skuId":"{}"}}"#,
                            state.directory.skus[l].sku_id
                        )
                    })
                    .collect();
                format!("[{}]", items.join(","))
            }
            Prop::SignInActivity => sign_in_json(user),
            Prop::DisplayName => string(&user.display_name),
            Prop::GivenName => opt(user.given_name.as_deref()),
            Prop::Surname => opt(user.surname.as_deref()),
            Prop::JobTitle => opt(user.job_title.as_deref()),
            Prop::BusinessPhones => "[]".to_owned(),
            Prop::MobilePhone | Prop::OfficeLocation => "null".to_owned(),
            Prop::PreferredLanguage => string("en-US"),
        };
        let _ = write!(out, r#""{}":{value}"#, prop_name(prop));
    }
    out.push('}');
}

fn sign_in_json(user: &User) -> String {
    match &user.sign_in {
        SignIn::Null => "null".to_owned(),
        SignIn::Object {
            interactive,
            non_interactive,
            successful,
        } => {
            // Request ids are present exactly when the matching date is a real one.
            let request_id = |value: &Option<String>, tag: &str| match value {
                Some(v) if !v.starts_with("0001-") => string(&format!("{}{}", &user.id[..24], tag)),
                Some(_) => string("00000000-0000-0000-0000-000000000000"),
                None => "null".to_owned(),
            };
            format!(
                r#"{{"lastSignInDateTime":{},"lastSignInRequestId":{},"lastNonInteractiveSignInDateTime":{},"lastNonInteractiveSignInRequestId":{},"lastSuccessfulSignInDateTime":{},"lastSuccessfulSignInRequestId":{}}}"#,
                opt(interactive.as_deref()),
                request_id(interactive, "a1b2c3d4e5f6"),
                opt(non_interactive.as_deref()),
                request_id(non_interactive, "f6e5d4c3b2a1"),
                opt(successful.as_deref()),
                request_id(successful, "0a1b2c3d4e5f"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip_and_resist_tampering() {
        for (offset, page) in [(0, 1), (120, 2), (99_999, 834)] {
            let cursor = Cursor { offset, page };
            let token = encode_skiptoken(7, cursor);
            assert_eq!(decode_skiptoken(7, &token), Some(cursor));
            assert_eq!(decode_skiptoken(8, &token), None);
        }
        assert_eq!(decode_skiptoken(7, "not-a-token"), None);
        assert_eq!(decode_skiptoken(7, "%%%"), None);
    }

    #[test]
    fn select_is_case_insensitive_and_rejects_unknown_properties() {
        assert_eq!(
            parse_select("id,USERPRINCIPALNAME, signInActivity,id").unwrap(),
            [Prop::Id, Prop::UserPrincipalName, Prop::SignInActivity]
        );
        assert!(parse_select("id,salary").is_err());
    }
}
