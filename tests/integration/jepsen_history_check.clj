;; Reads a drills Jepsen export the way elle-cli does (clojure.edn piecewise; clojure.data.json with
;; elle-cli's value-reader) and checks what Jepsen's history requires (tests/integration/test_jepsen_export.py).
(require '[clojure.edn :as edn] '[clojure.java.io :as io] '[clojure.data.json :as json])
(import '(java.io PushbackReader))

(defn read-edn-history [path]
  (let [h (with-open [r (PushbackReader. (io/reader path))]
            (->> (repeatedly #(edn/read {:eof nil} r)) (take-while identity) vec))]
    (if (and (= 1 (count h)) (sequential? (first h))) (vec (first h)) h)))

(defn value-reader [key value]
  (cond (or (= key :type) (= key :f)) (if (string? value) (keyword value) value)
        :else value))

(defn read-json-history [path]
  (json/read-str (slurp path) :key-fn keyword :value-fn value-reader))

(defn check [h]
  (assert (every? #(#{:invoke :ok :fail :info} (:type %)) h) "types")
  (assert (= (map :index h) (range (count h))) "index 0..n-1")
  (assert (apply <= (map :time h)) "time order")
  (assert (every? #(integer? (:process %)) h) "process")
  (loop [ops h open {} retired #{}]
    (if-let [op (first ops)]
      (let [p (:process op)]
        (assert (not (retired p)) (str "process reused after :info " op))
        (if (= :invoke (:type op))
          (do (assert (not (contains? open p)) (str "process busy " op))
              (recur (rest ops) (assoc open p op) retired))
          (let [inv (get open p)]
            (assert inv (str "completion without invoke " op))
            (assert (= (:f inv) (:f op)) "same :f")
            (when-not (= :read (:f op)) (assert (= (:value inv) (:value op)) "same :value"))
            (recur (rest ops) (dissoc open p) (if (= :info (:type op)) (conj retired p) retired)))))
      (assert (empty? open) (str "open at end: " (count open)))))
  h)

(defn set-summary [h]
  (let [adds (filter #(= :add (:f %)) h)
        ok (set (map :value (filter #(= :ok (:type %)) adds)))
        attempted (set (map :value adds))
        read (some #(when (and (= :read (:f %)) (= :ok (:type %))) (set (:value %))) h)]
    (when read
      {:acknowledged (count ok) :lost (count (remove read ok))
       :unexpected (count (remove attempted read)) :recovered (count (filter read (remove ok attempted)))})))

(doseq [[edn-path json-path] (partition 2 *command-line-args*)]
  (let [a (check (read-edn-history edn-path))
        b (check (read-json-history json-path))]
    (assert (= a b) "EDN and JSON read to the same history")
    (println edn-path "ops" (count a) "fs" (sort (distinct (map :f a))) "set" (set-summary a))))
