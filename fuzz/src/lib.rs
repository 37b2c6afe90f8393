//! Support for the fuzz targets that cannot live in the libraries: the jsonwebtoken adapter of
//! the differential target (jsonwebtoken is only a dev-dependency of mock-idp, whose corpus
//! replay test includes the same file).

pub mod jsonwebtoken_reference;
