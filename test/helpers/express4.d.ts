/**
 * Types for the `express4` alias (npm:express@4) used to run the route tests
 * on Express 4: its API is typed with the Express 5 declarations, which
 * cover everything the tests call.
 */
declare module 'express4' {
  import express = require('express');
  export = express;
}
