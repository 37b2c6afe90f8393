// express-oauth2-jwt-bearer (Auth0) protecting an MCP endpoint, configured as its README and
// Auth0's Express API quickstart show: `auth({ issuerBaseURL, audience, tokenSigningAlg:
// 'RS256' })` (discovery from the issuer's metadata) and `requiredScopes(...)`, here on every
// request. Nothing of its validation or its challenges is changed.
'use strict';

const express = require('express');
const { auth, requiredScopes } = require('express-oauth2-jwt-bearer');
const mcp = require('../node-common/mcp');

const NAME = 'express-oauth2-jwt-bearer';
const SCOPE = 'mcp:tools';
const config = mcp.env();

const checkJwt = auth({
  issuerBaseURL: config.issuer,
  audience: config.resource,
  tokenSigningAlg: 'RS256',
});

const app = mcp.app({
  express,
  config,
  protect: [checkJwt, requiredScopes(SCOPE)],
  scopes: [SCOPE],
  name: NAME,
});
mcp.listen(app, config, NAME);
