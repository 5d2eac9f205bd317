import { WebSocketServer } from 'ws';
import { readFileSync } from 'node:fs';
const lines = readFileSync('test/fixtures/jetstream-production-sample.jsonl', 'utf8').trim().split('\n');
const wss = new WebSocketServer({ port: 6099, path: '/subscribe' });
wss.on('connection', (ws, req) => { console.log('conn', req.url); for (const l of lines) ws.send(l); ws.send('{bad json'); });
console.log('listening');
