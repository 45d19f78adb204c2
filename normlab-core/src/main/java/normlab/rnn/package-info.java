/**
 * Recurrent layers on (N, T, F) sequences: {@link normlab.rnn.LSTM} and {@link normlab.rnn.GRU} with PyTorch's
 * semantics and state-dict names, the normalized LSTM cells {@link normlab.rnn.NormLSTM} (LayerNorm-LSTM, Ba et al.
 * 2016; BatchNorm-LSTM with statistics per time step, Cooijmans et al. 2017, and the naive one shared over time),
 * and the glue that puts a recurrent layer into a {@code Sequential} classifier ({@link normlab.rnn.LastStep},
 * {@link normlab.rnn.Unflatten}). Every layer keeps its activations time-major internally, forward saves what
 * backward-through-time needs.
 */
package normlab.rnn;
