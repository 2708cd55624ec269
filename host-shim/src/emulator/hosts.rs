//! The org's two hosts on one port (salesforce-api.md §1.1): the login host
//! (`http://127.0.0.1:PORT`), where OAuth and the identity URL live, and the instance host
//! (`http://localhost:PORT`, the token's `instance_url`), where the data API lives. Both are
//! names of 127.0.0.1; the emulator tells them apart by each request's `Host` header, so a
//! client that sends data calls to the login host, or identity calls to the instance, is caught.

use std::io;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

/// The login host: the address the emulator listens on.
pub const LOGIN_HOST: &str = "127.0.0.1";
/// The instance host unless [`super::EmulatorOptions::instance_host`] names another.
pub const DEFAULT_INSTANCE_HOST: &str = "localhost";

/// The host a request was addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// The login host: OAuth and the identity URL; data calls are refused.
    Login,
    /// The instance host, a My Domain: the data API and OAuth, not the identity URL.
    Instance,
    /// The one host of an emulator started with the instance host 127.0.0.1: everything.
    Both,
}

/// The login and instance base URLs.
pub struct Hosts {
    login: String,
    instance: String,
    /// The instance host's name, lowercase, as a `Host` header carries it.
    instance_name: String,
}

impl Hosts {
    /// The hosts on `port`; `instance_host` must be a name of 127.0.0.1 ([`check_instance_host`]).
    pub fn new(port: u16, instance_host: &str) -> io::Result<Hosts> {
        let instance_name = check_instance_host(instance_host)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Hosts {
            login: format!("http://{LOGIN_HOST}:{port}"),
            instance: format!("http://{instance_name}:{port}"),
            instance_name,
        })
    }

    /// `http://127.0.0.1:PORT`: authorize, token, revoke, userinfo, the identity URL.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// The token's `instance_url`: the data API (and OAuth, as on a My Domain).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The instance host's name (lowercase).
    pub fn instance_name(&self) -> &str {
        &self.instance_name
    }

    /// The identity URL (a token's `id`): on the login host, whatever the instance.
    pub fn identity_url(&self, org_id: &str, user_id: &str) -> String {
        format!("{}/id/{org_id}/{user_id}", self.login)
    }

    /// The host a request's `Host` header names. With two hosts, anything but the instance
    /// host's name (a missing header too) is the login host, the address the emulator listens on.
    pub fn of(&self, host_header: Option<&str>) -> Host {
        if self.login == self.instance {
            return Host::Both;
        }
        let authority = host_header.and_then(|h| h.parse::<http::uri::Authority>().ok());
        match authority {
            Some(a) if a.host().eq_ignore_ascii_case(&self.instance_name) => Host::Instance,
            _ => Host::Login,
        }
    }

    /// The base URL of the host a request was addressed to.
    pub fn base(&self, host: Host) -> &str {
        match host {
            Host::Instance => &self.instance,
            Host::Login | Host::Both => &self.login,
        }
    }
}

/// `name`, lowercase, when it is a name of 127.0.0.1 (where the emulator listens), so that
/// clients reach the emulator there; otherwise why not. Resolving `localhost` or an IP address
/// reads no DNS server.
pub fn check_instance_host(name: &str) -> Result<String, String> {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let resolves = (name, 0)
        .to_socket_addrs()
        .is_ok_and(|mut addrs| addrs.any(|a| a.ip() == loopback));
    if resolves {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!(
            "{name:?} is not a name of {LOGIN_HOST}, where the emulator listens"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_header_names_the_host_whatever_its_case_and_port() {
        let hosts = Hosts::new(8080, "LocalHost").expect("localhost is 127.0.0.1");
        assert_eq!(hosts.instance(), "http://localhost:8080");
        assert_eq!(hosts.of(Some("localhost:8080")), Host::Instance);
        assert_eq!(hosts.of(Some("LOCALHOST")), Host::Instance);
        for login in [
            Some("127.0.0.1:8080"),
            Some("[::1]:8080"),
            Some("not a host"),
            None,
        ] {
            assert_eq!(hosts.of(login), Host::Login, "{login:?}");
        }
        let one = Hosts::new(8080, LOGIN_HOST).expect("the login host itself");
        assert_eq!(one.instance(), one.login());
        assert_eq!(one.of(Some("localhost:8080")), Host::Both);
    }
}
