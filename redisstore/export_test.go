package redisstore

// MaxPendingMessages is maxPendingMessages, for the tests of the
// Broadcaster's queue.
const MaxPendingMessages = maxPendingMessages
