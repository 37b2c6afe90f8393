// passport-jwt with jwks-rsa's passportJwtSecret protecting an MCP endpoint, configured as
// jwks-rsa's passport example shows (cache, rate limit, audience, issuer, algorithms RS256)
// and passport-jwt's README (Bearer header extractor, verify callback accepting any `sub`).
// `failWithError` (a documented passport option) hands the 401 to the error handler, which adds
// `resource_metadata`; passport-jwt itself writes no challenge.
'use strict';

const express = require('express');
const passport = require('passport');
const { Strategy: JwtStrategy, ExtractJwt } = require('passport-jwt');
const jwksRsa = require('jwks-rsa');
const mcp = require('../node-common/mcp');

const NAME = 'passport-jwt';
const config = mcp.env();

passport.use(
  new JwtStrategy(
    {
      secretOrKeyProvider: jwksRsa.passportJwtSecret({
        cache: true,
        rateLimit: true,
        jwksRequestsPerMinute: 5,
        jwksUri: config.jwksUri,
      }),
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      audience: config.resource,
      issuer: config.issuer,
      algorithms: ['RS256'],
    },
    (jwtPayload, done) => (jwtPayload && jwtPayload.sub ? done(null, jwtPayload) : done(null, false)),
  ),
);

const app = mcp.app({
  express,
  config,
  protect: [passport.initialize(), passport.authenticate('jwt', { session: false, failWithError: true })],
  scopes: [],
  name: NAME,
});
mcp.listen(app, config, NAME);
