export { Producer, type ProducerOptions, type PutResult, type ProducerEvent } from './producer.js'
export { Consumer, type ConsumerOptions, type ConsumerRecord, type Batch, type ConsumerEvent } from './consumer.js'
export { SluiceError, ClosedError } from './errors.js'
export { SluiceClient, type SluiceClientOptions, type ReadFrom } from './rest-client.js'
