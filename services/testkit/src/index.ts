/** @sluice/testkit: real servers and processes for integration and fault tests. */
export { freePort, isPortFree } from './ports.js'
export { waitFor, WaitTimeoutError, type Truthy, type WaitOptions } from './wait.js'
export { isAlive, type ExitStatus } from './lifecycle.js'
export { startProcess, type ChildHandle, type StartProcessOptions } from './processes.js'
export { startRedis, type RedisServer, type StartRedisOptions } from './redis.js'
export { startRedisCluster, type RedisClusterHandle, type StartRedisClusterOptions } from './redis-cluster.js'
export { redisCommand, type RespReply } from './resp.js'
export { startS3, type S3Server, type StartS3Options } from './s3.js'
