// A bare Nest application context: the floor the CLI's start-up is compared with.
require('reflect-metadata');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
class Empty {}
Module({})(Empty);
NestFactory.createApplicationContext(Empty, { logger: false }).then((app) => app.close());
