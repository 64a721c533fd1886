{
 "cells": [
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "%load_ext autoreload"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "# Sequence Models W1A1 -- weights used split into their a_prev and xt columns, dict caches\n",
    "import numpy as np\n",
    "\n",
    "np.random.seed(1)"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "def sigmoid(z):\n",
    "    return 1 / (1 + np.exp(-z))"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "def softmax(z):\n",
    "    z = z - z.max(axis=0)\n",
    "    return np.exp(z) / np.exp(z).sum(axis=0)"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "def rnn_cell_forward(xt, a_prev, parameters):\n",
    "    Wax, Waa, Wya, ba, by = (parameters[k] for k in (\"Wax\", \"Waa\", \"Wya\", \"ba\", \"by\"))\n",
    "    a_next = np.tanh(Wax.dot(xt) + Waa.dot(a_prev) + ba)\n",
    "    yt_pred = softmax(Wya.dot(a_next) + by)\n",
    "    return a_next, yt_pred, {\"a_next\": a_next, \"a_prev\": a_prev, \"xt\": xt, \"parameters\": parameters}"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "def rnn_forward(x, a0, parameters):\n",
    "    n_x, m, T_x = x.shape\n",
    "    n_y, n_a = parameters[\"Wya\"].shape\n",
    "    a, y_pred = np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x))\n",
    "    caches = []\n",
    "    a_t = a0\n",
    "    for t in range(T_x):\n",
    "        a_t, y_pred[:, :, t], cache = rnn_cell_forward(x[:, :, t], a_t, parameters)\n",
    "        a[:, :, t] = a_t\n",
    "        caches.append(cache)\n",
    "    return a, y_pred, (caches, x)"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "def rnn_cell_backward(da_next, cache):\n",
    "    p = cache[\"parameters\"]\n",
    "    dz = da_next * (1 - cache[\"a_next\"] * cache[\"a_next\"])\n",
    "    return {\"dxt\": p[\"Wax\"].T.dot(dz), \"da_prev\": p[\"Waa\"].T.dot(dz), \"dWax\": dz.dot(cache[\"xt\"].T),\n",
    "            \"dWaa\": dz.dot(cache[\"a_prev\"].T), \"dba\": dz.sum(axis=1, keepdims=True)}"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "def rnn_backward(da, caches):\n",
    "    caches, x = caches\n",
    "    n_a, m, T_x = da.shape\n",
    "    p = caches[0][\"parameters\"]\n",
    "    # written out without rnn_cell_backward\n",
    "    dx = np.zeros(x.shape)\n",
    "    dWax, dWaa, dba = np.zeros_like(p[\"Wax\"]), np.zeros_like(p[\"Waa\"]), np.zeros_like(p[\"ba\"])\n",
    "    da_prevt = np.zeros((n_a, m))\n",
    "    for t in range(T_x - 1, -1, -1):\n",
    "        c = caches[t]\n",
    "        dz = (da[:, :, t] + da_prevt) * (1 - c[\"a_next\"] ** 2)\n",
    "        dx[:, :, t] = p[\"Wax\"].T.dot(dz)\n",
    "        dWax += dz.dot(c[\"xt\"].T)\n",
    "        dWaa += dz.dot(c[\"a_prev\"].T)\n",
    "        dba += dz.sum(axis=1, keepdims=True)\n",
    "        da_prevt = p[\"Waa\"].T.dot(dz)\n",
    "    return {\"dx\": dx, \"da0\": da_prevt, \"dWax\": dWax, \"dWaa\": dWaa, \"dba\": dba}"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "def lstm_cell_forward(xt, a_prev, c_prev, parameters):\n",
    "    n_a = a_prev.shape[0]\n",
    "    gate = {}\n",
    "    for name, act in ((\"f\", sigmoid), (\"i\", sigmoid), (\"c\", np.tanh), (\"o\", sigmoid)):\n",
    "        W, b = parameters[\"W\" + name], parameters[\"b\" + name]\n",
    "        gate[name] = act(W[:, :n_a].dot(a_prev) + W[:, n_a:].dot(xt) + b)\n",
    "    c_next = gate[\"f\"] * c_prev + gate[\"i\"] * gate[\"c\"]\n",
    "    a_next = gate[\"o\"] * np.tanh(c_next)\n",
    "    yt_pred = softmax(parameters[\"Wy\"].dot(a_next) + parameters[\"by\"])\n",
    "    cache = {\"a_next\": a_next, \"c_next\": c_next, \"a_prev\": a_prev, \"c_prev\": c_prev, \"xt\": xt,\n",
    "             \"gate\": gate, \"parameters\": parameters}\n",
    "    return a_next, c_next, yt_pred, cache"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "def lstm_cell_backward(da_next, dc_next, cache):\n",
    "    g, p = cache[\"gate\"], cache[\"parameters\"]\n",
    "    n_a = da_next.shape[0]\n",
    "    tanh_c = np.tanh(cache[\"c_next\"])\n",
    "    dc = dc_next + da_next * g[\"o\"] * (1 - tanh_c ** 2)\n",
    "    dz = {\"o\": da_next * tanh_c * g[\"o\"] * (1 - g[\"o\"]),\n",
    "          \"c\": dc * g[\"i\"] * (1 - g[\"c\"] ** 2),\n",
    "          \"i\": dc * g[\"c\"] * g[\"i\"] * (1 - g[\"i\"]),\n",
    "          \"f\": dc * cache[\"c_prev\"] * g[\"f\"] * (1 - g[\"f\"])}\n",
    "    grads = {\"da_prev\": 0, \"dxt\": 0, \"dc_prev\": dc * g[\"f\"]}\n",
    "    for name, d in dz.items():\n",
    "        W = p[\"W\" + name]\n",
    "        grads[\"dW\" + name] = np.hstack([d.dot(cache[\"a_prev\"].T), d.dot(cache[\"xt\"].T)])\n",
    "        grads[\"db\" + name] = d.sum(axis=1, keepdims=True)\n",
    "        grads[\"da_prev\"] = grads[\"da_prev\"] + W[:, :n_a].T.dot(d)\n",
    "        grads[\"dxt\"] = grads[\"dxt\"] + W[:, n_a:].T.dot(d)\n",
    "    return grads"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "def lstm_forward(x, a0, parameters):\n",
    "    n_x, m, T_x = x.shape\n",
    "    n_y, n_a = parameters[\"Wy\"].shape\n",
    "    a, c, y = np.zeros((n_a, m, T_x)), np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x))\n",
    "    caches = []\n",
    "    a_t, c_t = a0, np.zeros((n_a, m))\n",
    "    for t in range(T_x):\n",
    "        a_t, c_t, y[:, :, t], cache = lstm_cell_forward(x[:, :, t], a_t, c_t, parameters)\n",
    "        a[:, :, t], c[:, :, t] = a_t, c_t\n",
    "        caches.append(cache)\n",
    "    return a, y, c, (caches, x)"
   ]
  },
  {
   "cell_type": "code",
   "execution_count": 1,
   "metadata": {},
   "outputs": [],
   "source": [
    "def lstm_backward(da, caches):\n",
    "    caches, x = caches\n",
    "    n_a, m, T_x = da.shape\n",
    "    dx = np.zeros(x.shape)\n",
    "    totals = {}\n",
    "    da_prevt, dc_prevt = np.zeros((n_a, m)), np.zeros((n_a, m))\n",
    "    for t in reversed(range(T_x)):\n",
    "        grads = lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])\n",
    "        da_prevt, dc_prevt = grads[\"da_prev\"], grads[\"dc_prev\"]\n",
    "        dx[:, :, t] = grads[\"dxt\"]\n",
    "        for k in (\"dWf\", \"dbf\", \"dWi\", \"dbi\", \"dWc\", \"dbc\", \"dWo\", \"dbo\"):\n",
    "            totals[k] = totals.get(k, 0) + grads[k]\n",
    "    return {\"dx\": dx, \"da0\": da_prevt, **totals}"
   ]
  }
 ],
 "metadata": {
  "kernelspec": {
   "name": "python3",
   "display_name": "Python 3",
   "language": "python"
  }
 },
 "nbformat": 4,
 "nbformat_minor": 5
}