"""A Keras-in-TF1 program (the tf.keras "get started" of TF 1.x): a Sequential classifier on
MNIST trained with compile/fit, evaluated, its predictions argmaxed."""
import numpy as np
import tensorflow as tf

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train, x_test = x_train[:6000] / 255.0, x_test[:2000] / 255.0
y_train, y_test = y_train[:6000], y_test[:2000]

model = tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(10, activation='softmax')
])
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model.summary()
history = model.fit(x_train, y_train, epochs=2, verbose=2)
print("train loss", " ".join("%.4f" % v for v in history.history["loss"]))
loss, acc = model.evaluate(x_test, y_test, verbose=0)
pred = np.argmax(model.predict(x_test), axis=1)
print("test accuracy %.4f" % acc)
print("predict accuracy %.4f" % np.mean(pred == y_test))
print("weights", " ".join(w.name for w in model.trainable_weights))
