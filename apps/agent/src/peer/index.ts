export { peerAddresses } from './addresses.ts';
export { parseRange, peerMaxHeaderBytes, startPeerServer, type PeerLog, type PeerServer, type PeerServerOptions, type PeerServerStats, type PeerTimeouts } from './server.ts';
export { ImageBlobs } from './image-blobs.ts';
export { JobPeers } from './job-peers.ts';
