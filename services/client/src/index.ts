export { Producer, type ProducerOptions, type PutResult } from './producer.js'
export { Consumer, type ConsumerOptions, type ConsumerRecord, type Batch, type ConsumerEvent } from './consumer.js'
export { SluiceError, ClosedError } from './errors.js'
